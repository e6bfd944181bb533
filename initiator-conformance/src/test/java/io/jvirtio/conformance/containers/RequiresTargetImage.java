package io.jvirtio.conformance.containers;

import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.opentest4j.TestAbortedException;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a test class of the container suite: it runs only when a Docker engine answers, the
 * target's image is there (see {@link TargetImages}) and, for SPDK, hugepages are; otherwise the
 * class is reported as skipped with the reason, or fails when {@code JVIRTIO_REQUIRE_CONTAINERS=1}.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(RequiresTargetImage.Check.class)
public @interface RequiresTargetImage {
    /** @return the image the class's targets run */
    TargetImages value();

    /** Evaluates the class once, before any of its extensions start a container. */
    final class Check implements ExecutionCondition {
        @Override
        public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
            if (context.getTestMethod().isPresent()) {
                return ConditionEvaluationResult.enabled("decided for the class");
            }
            RequiresTargetImage need = context.getRequiredTestClass().getAnnotation(RequiresTargetImage.class);
            if (need == null) {
                return ConditionEvaluationResult.enabled("no image named");
            }
            try {
                ContainerAvailability.assumeEngine();
                if (need.value() == TargetImages.SPDK) {
                    HugePages.ensureHugetlbfs();
                    HugePages.ensureFree(TargetContainer.SPDK_HUGEPAGES, "SPDK's vhost target and jvirtio's front-end memory");
                }
                return ConditionEvaluationResult.enabled("image " + need.value().image());
            } catch (TestAbortedException e) {
                return ConditionEvaluationResult.disabled(e.getMessage());
            }
        }
    }
}
